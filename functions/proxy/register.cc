// Registers the `proxy` module with the registry.
#include "functions/proxy/proxy.h"

EDGEFN_MODULE(proxy, "proxy",
              "forwards requests to config.upstream (X-Forwarded-*, Forwarded) and answers with "
              "its response",
              &edgefn::functions::ProxyModule::create);
