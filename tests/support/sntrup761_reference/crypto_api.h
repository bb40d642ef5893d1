/* What OpenSSH's sntrup761.c takes from OpenSSH's crypto_api.h, with the randomness redirected to
   the driver's deterministic stream. */
#include <stdint.h>
typedef int8_t crypto_int8;
typedef uint8_t crypto_uint8;
typedef int16_t crypto_int16;
typedef uint16_t crypto_uint16;
typedef int32_t crypto_int32;
typedef uint32_t crypto_uint32;
typedef int64_t crypto_int64;
typedef uint64_t crypto_uint64;
void reference_random_bytes(void *out, unsigned long long size);
#define randombytes(buf, buf_len) reference_random_bytes((buf), (buf_len))
int crypto_hash_sha512(unsigned char *, const unsigned char *, unsigned long long);
