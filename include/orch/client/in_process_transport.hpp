// The in-process transport: answers each request by calling an apiserver::Handler directly (no
// socket, no serialization of headers), so an embedded cluster's components go through the same
// routing, admission and validation as remote clients. The request is marked remote =
// "in-process". A Response that carries a ResponseStream becomes a ByteStream reading it.
//
// Timeouts: Handler::handle is synchronous and cannot be interrupted, so HttpRequest::timeout
// only bounds how long request() drains a streamed body (DeadlineExceeded when it does not end
// in time; 60 s when the request sets none); stream() reads obey their own timeouts.
//
// Thread-safety: as Transport (many threads may call request()/stream() at once; the Handler must
// allow that, which the apiserver's does). The Handler must outlive the transport and every
// stream it returned.
#pragma once

#include <memory>

#include "orch/apiserver/handler.hpp"
#include "orch/client/transport.hpp"

namespace orch::client {

// A transport over `handler` (not owned; must outlive the transport and its streams).
std::unique_ptr<Transport> make_in_process_transport(apiserver::Handler& handler);

}  // namespace orch::client
