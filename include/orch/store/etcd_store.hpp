// The etcd Store backend: the Store contract (store.hpp) on an etcd 3.4+ cluster through its v3
// JSON gateway (doc/store.md, "The etcd backend"; ../shared/reference/etcd-gateway.md).
//
// Mapping:
// - Revisions are etcd's cluster-wide revisions minus one: etcd revision 1 is a new cluster's empty
//   state, so a fresh etcd reads as revision 0 and its first write as revision 1, exactly as a new
//   SQLite store. Every writer of the cluster (other stores under other key prefixes included)
//   advances the one counter, as in Kubernetes.
// - create is a txn "create_revision == 0 ? put : range"; update and remove are txns on
//   mod_revision. An unconditional update or remove (expected revision 0) reads the current
//   mod_revision first and then compares on it, so that every write it sends is conditional.
// - list is a range pinned to one revision (paging: limit, last key + '\0'); a list at an older
//   revision also checks that revision against the compaction point in the same read-only txn.
// - compact(R) compacts etcd at its revision R (our R - 1), keeping exactly what the first event
//   after R - 1 needs for its `prev`; reads below R are refused by this client.
//   compacted_revision() is found by probing which revisions are still readable (a few range
//   requests).
// - watch runs one streaming POST /v3/watch per Watch, all of a store's streams on one thread
//   (curl multi). The stream starts on the first next(), so a watch that was created before a
//   compaction and is read after it fails with OutOfRange like the SQLite backend.
//
// Failover: requests go to one endpoint and move to the next when it is down, times out, has no
// leader (requests carry etcd's "require leader" metadata, so such a member answers at once), or
// answers 5xx. Reads are simply retried. A write whose outcome is unknown (timeout, 5xx, connection
// lost after sending) is retried as the same conditional txn, which can apply at most once; when
// the retry finds the key changed, the history tells whether the change was this write (for
// create: the value the incarnation was created with; for update/remove: the first write after the
// expected revision). The history shows only values, so this tells an earlier copy of the write
// from another client's write only when the two values differ: two clients that write
// byte-identical values from the same expected revision, one of them after an unknown outcome,
// may both be acknowledged. Writes that must count (a counter) carry a request id in the value.
// Only when no endpoint answers within `operation_timeout` does a write fail with Unavailable,
// and then its message says that it may still have been committed.
//
// Watches: a watch whose stream breaks resumes on another endpoint from its progress revision +
// 1 (the last event, or a later revision that etcd reported as caught up). compact() first waits
// (up to 2 s) until etcd has caught up every watch of this store, since etcd 3.4 cancels a watcher
// it has not caught up yet when a compaction passes its start, even if it had nothing to miss
// (lib/store/etcd/etcd_watch.hpp). Watches of other clients of the cluster can still get that
// 410 when a compaction races with their (re)start; as any 410, the caller relists.
//
// Thread-safety: as Store. Destroying the store ends every Watch with Unavailable; a Watch may
// outlive the store.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "orch/status.hpp"
#include "orch/store/store.hpp"

namespace orch::store {

struct EtcdOptions {
  // Client URLs of the members ("http://127.0.0.1:2379", "https://etcd-1:2379"). Requests start at
  // the first and move on when one fails. Required (at least one).
  std::vector<std::string> endpoints;

  // TLS: a PEM CA bundle to verify the members with (empty: the system's), and a client
  // certificate and key (PEM files) when the members require client authentication.
  // Default: none.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;

  // Prepended to every key on the wire, so that several stores (test clusters) share one etcd,
  // e.g. "/orch-a". Keys returned to the caller never carry it. Default: none.
  std::string key_prefix;

  // One HTTP request to one member; a request that takes longer is abandoned and the next member
  // tried (etcd itself answers a request it cannot commit only after 7 s). Default: 2 s.
  std::chrono::milliseconds request_timeout = std::chrono::seconds(2);
  // TCP (and TLS) connection set-up to one member. Default: 500 ms.
  std::chrono::milliseconds connect_timeout = std::chrono::milliseconds(500);
  // One Store call, failover and the resolution of unknown outcomes included. Default: 15 s.
  std::chrono::milliseconds operation_timeout = std::chrono::seconds(15);
  // The buffer of a watch whose WatchOptions::buffer is 0. Default: 1024.
  std::size_t watch_buffer = 1024;
};

// Opens a client of the cluster and checks that a member answers (reads the current revision).
// Errors: InvalidArgument for no endpoints, a URL that is not http(s)://, or an unreadable TLS
// file; Unavailable when no member answered within operation_timeout.
Result<std::unique_ptr<Store>> open_etcd_store(const EtcdOptions& options);

}  // namespace orch::store
