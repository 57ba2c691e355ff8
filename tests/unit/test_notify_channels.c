/* test_notify_channels.c - placeholder until the channels land. */
#include "harness.h"

TEST_MAIN()
