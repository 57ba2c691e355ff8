/* pages.c - placeholder. */
#include "oncall/oncall.h"
