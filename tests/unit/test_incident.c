/* test_incident.c - placeholder until the incident model lands. */
#include "harness.h"

TEST_MAIN()
