/* keys.c - the Redis keys more than one layer names. */
#include "core/keys.h"

#include <stdio.h>

void ovs_stock_key(int sku, char *buf, size_t len)
{
    snprintf(buf, len, "stock:%d", sku);
}
