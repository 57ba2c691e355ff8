/* incident.c - placeholder until the incident model lands. */
#include "incident/incident.h"
