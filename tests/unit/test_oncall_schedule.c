/* test_oncall_schedule.c - placeholder until schedules land. */
#include "harness.h"

TEST_MAIN()
