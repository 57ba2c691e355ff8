/*
 * banned.h - functions that are too easy to misuse, made compile errors.
 *
 * Included last by every translation unit through core.h. Use the
 * bounded replacements: dw_strlcpy / snprintf / strtok_r / dw_parse_int.
 */
#ifndef DW_BANNED_H
#define DW_BANNED_H

/* The headers that declare (and, when optimising, define inline) the banned
   functions come first, so a later include of them - after core.h - finds
   them already read instead of expanding the macros below in their bodies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DW_BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) DW_BANNED(strcpy)
#undef strcat
#define strcat(x, y) DW_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) DW_BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) DW_BANNED(strncat)
#undef sprintf
#define sprintf(...) DW_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) DW_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) DW_BANNED(strtok)
#undef atoi
#define atoi(x) DW_BANNED(atoi)
#undef atol
#define atol(x) DW_BANNED(atol)
#undef atoll
#define atoll(x) DW_BANNED(atoll)
#undef atof
#define atof(x) DW_BANNED(atof)
#undef gets
#define gets(x) DW_BANNED(gets)
#undef gmtime
#define gmtime(x) DW_BANNED(gmtime)
#undef localtime
#define localtime(x) DW_BANNED(localtime)
#undef ctime
#define ctime(x) DW_BANNED(ctime)
#undef asctime
#define asctime(x) DW_BANNED(asctime)

#endif
