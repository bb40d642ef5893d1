/* sntrup761.c compiles only under OpenSSH configure's switch. */
#define USE_SNTRUP761X25519 1
