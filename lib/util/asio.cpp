// Boost.Asio and Boost.Beast compiled once for the whole library (their separate-compilation
// modes), instead of in every file that uses them. Every target that includes Asio or Beast must
// use orch_asio_dep, which defines the matching macros.
// Thread-safety: n/a (no code of ours).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
