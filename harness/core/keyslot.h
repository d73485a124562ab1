/* keyslot.h - which Redis Cluster hash slot a key lives in.
 *
 * hiredis 0.14 (Debian 12) knows nothing of Redis Cluster, so the harness computes slots
 * itself, as every cluster client does: CRC16 (XMODEM: polynomial 0x1021, initial value 0)
 * of the key, or of its hash tag, modulo 16384. The hash tag is what lies between the first
 * '{' and the first '}' after it, when that is not empty: "stock:{sku:1}" and
 * "hold:{sku:1}" share a slot, so one script may touch both. */
#ifndef OVS_KEYSLOT_H
#define OVS_KEYSLOT_H

#include <stddef.h>
#include <stdint.h>

#define OVS_CLUSTER_SLOTS 16384

/* CRC16-XMODEM of len bytes; 0x31C3 for "123456789". */
uint16_t ovs_crc16(const char *buf, size_t len);
/* The slot of a key of len bytes (it may hold NUL bytes), 0..OVS_CLUSTER_SLOTS-1. */
int ovs_keyslot(const char *key, size_t len);

#endif
