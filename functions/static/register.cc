// Registers the `static` module with the registry.
#include "functions/static/static.h"

EDGEFN_MODULE(static_module, "static", "fixed status, Content-Type and body (or file) from config",
              &edgefn::functions::StaticModule::create);
