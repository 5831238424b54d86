// The one doctest main() every test binary links (compiled once, not per binary).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest.h>
