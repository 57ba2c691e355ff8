/* schedule.h - placeholder (internal to src/oncall). */
#ifndef DW_ONCALL_SCHEDULE_H
#define DW_ONCALL_SCHEDULE_H
#include "core/core.h"
#include "plan/plan.h"
#endif
