/* sched_config.c - placeholder. */
#include "oncall/schedule.h"
