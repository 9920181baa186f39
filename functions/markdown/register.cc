// Registers the `markdown` module with the registry.
#include "functions/markdown/markdown.h"

EDGEFN_MODULE(markdown, "markdown",
              "POSTed GitHub Flavored Markdown -> 200 text/html (cmark-gfm; raw HTML filtered)",
              &edgefn::functions::MarkdownModule::create);
