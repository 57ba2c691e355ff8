/* ical.c - placeholder. */
#include "oncall/schedule.h"
