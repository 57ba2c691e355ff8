/* oncall.h - placeholder. */
#ifndef DW_ONCALL_H
#define DW_ONCALL_H
#include "notify/notify.h"
#endif
