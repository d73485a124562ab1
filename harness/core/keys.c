/* keys.c - the Redis keys more than one layer names. */
#include "core/keys.h"

#include <stdio.h>

void ovs_stock_key(int sku, char *buf, size_t len)
{
    snprintf(buf, len, "stock:%d", sku);
}

void ovs_stock_bucket_key(int sku, int b, char *buf, size_t len)
{
    snprintf(buf, len, "stock:{sku:%d:b%d}", sku, b);
}
