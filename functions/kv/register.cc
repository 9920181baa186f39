// Registers the `kv` module with the registry.
#include "functions/kv/kv.h"

EDGEFN_MODULE(
    kv, "kv",
    "GET/PUT/DELETE /.../:key and POST /.../:key/incr on the node's key-value store (Redis "
    "when configured)",
    &edgefn::functions::KvModule::create);
