/* token.c - placeholder. */
#include "oncall/oncall.h"
