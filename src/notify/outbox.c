/* outbox.c - placeholder. */
#include "notify/notify_internal.h"
