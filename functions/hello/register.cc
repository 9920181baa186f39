// Registers the `hello` module with the registry.
#include "functions/hello/hello.h"

EDGEFN_MODULE(hello, "hello", "200 text/plain \"<greeting>, <name or world>!\"",
              &edgefn::functions::HelloModule::create);
