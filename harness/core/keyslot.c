/* keyslot.c - Redis Cluster hash slots (see keyslot.h). Bit by bit rather than Redis's
 * 256-entry table: keys are short, and the loop has no table to get wrong. */
#include "core/keyslot.h"

#include <string.h>

uint16_t ovs_crc16(const char *buf, size_t len)
{
    uint16_t crc = 0;

    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)((unsigned char)buf[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

int ovs_keyslot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);

    if (open != NULL) {
        size_t from = (size_t)(open - key) + 1;
        const char *close = memchr(key + from, '}', len - from);
        /* "{}" hashes the whole key, as Redis does: an empty tag is no tag. */
        if (close != NULL && close > key + from)
            return ovs_crc16(key + from, (size_t)(close - (key + from))) % OVS_CLUSTER_SLOTS;
    }
    return ovs_crc16(key, len) % OVS_CLUSTER_SLOTS;
}
