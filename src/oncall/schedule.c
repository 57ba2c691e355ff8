/* schedule.c - placeholder. */
#include "oncall/schedule.h"
