/* slack.c - placeholder until the channel lands. */
#include "notify/notify_internal.h"
