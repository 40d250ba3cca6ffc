/* SPDX-License-Identifier: MIT */
/*
 * banned.h - functions the shipped sources must not call, made compile errors (the build
 * passes it with -include to every object of the tools and the library, not to tests).
 * Replacements: snprintf/asprintf and memcpy with a checked length for the copies and
 * formats; strtol/strtoul, which report errors, for the ato* family; strtok_r; RAND_bytes for
 * every random number; gmtime_r/localtime_r. The system headers that declare them come
 * first, so that their declarations are not taken for calls.
 */
#ifndef ECFS_BANNED_H
#define ECFS_BANNED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A call of a banned function names an undeclared identifier that says why. */
#define ECFS_BANNED(func) sorry_##func##_is_banned_in_envcryptfs

#undef strcpy
#define strcpy(...) ECFS_BANNED(strcpy)
#undef strcat
#define strcat(...) ECFS_BANNED(strcat)
#undef strncpy
#define strncpy(...) ECFS_BANNED(strncpy)
#undef strncat
#define strncat(...) ECFS_BANNED(strncat)
#undef sprintf
#define sprintf(...) ECFS_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) ECFS_BANNED(vsprintf)
#undef gets
#define gets(...) ECFS_BANNED(gets)
#undef atoi
#define atoi(...) ECFS_BANNED(atoi)
#undef atol
#define atol(...) ECFS_BANNED(atol)
#undef atoll
#define atoll(...) ECFS_BANNED(atoll)
#undef strtok
#define strtok(...) ECFS_BANNED(strtok)
#undef rand
#define rand(...) ECFS_BANNED(rand)
#undef srand
#define srand(...) ECFS_BANNED(srand)
#undef random
#define random(...) ECFS_BANNED(random)
#undef srandom
#define srandom(...) ECFS_BANNED(srandom)
#undef drand48
#define drand48(...) ECFS_BANNED(drand48)
#undef rand_r
#define rand_r(...) ECFS_BANNED(rand_r)
#undef gmtime
#define gmtime(...) ECFS_BANNED(gmtime)
#undef localtime
#define localtime(...) ECFS_BANNED(localtime)
#undef asctime
#define asctime(...) ECFS_BANNED(asctime)

#endif /* ECFS_BANNED_H */
