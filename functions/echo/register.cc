// Registers the `echo` module with the registry.
#include "functions/echo/echo.h"

EDGEFN_MODULE(echo, "echo", "200 application/json describing the request (method, headers, body)",
              &edgefn::functions::EchoModule::create);
