/* incident.h - placeholder until the incident model lands. */
#ifndef DW_INCIDENT_H
#define DW_INCIDENT_H
#include "core/core.h"
#endif
