// Backend fixtures for the Store conformance suite: each opens a fresh, empty store of one backend
// (in a temp dir for SQLite) and can reopen it. The etcd backend adds its fixture here and to
// kStoreFixtures in store_conformance_test.cpp.
//
// Fixture interface (duck-typed, used by TEST_CASE_TEMPLATE):
//   static constexpr const char* kName;
//   Store& store();
//   void reopen();   // close and open again on the same data (REQUIREs success)
//
// Thread-safety: a fixture is used by the test's main thread; store() by any thread.
#pragma once

#include <algorithm>
#include <memory>
#include <string>

#include "orch/store/sqlite_store.hpp"
#include "store_test_util.hpp"
#ifdef ORCH_STORE_TEST_ETCD
#include "etcd_fixture.hpp"
#include "orch/store/etcd_store.hpp"
#endif

namespace orch::store::testing {

class SqliteFixtureBase {
 public:
  Store& store() { return *store_; }
  void reopen() {
    store_.reset();
    auto opened = open_sqlite_store(options_);
    REQUIRE_MESSAGE(opened.ok(), opened.status().to_string());
    store_ = std::move(opened).value();
  }

 protected:
  explicit SqliteFixtureBase(SqliteOptions options) : options_(std::move(options)) {
    options_.path = dir_.file("store.db");
    options_.auto_compaction_interval = std::chrono::milliseconds(0);
    reopen();
  }

 private:
  TempDir dir_;
  SqliteOptions options_;
  std::unique_ptr<Store> store_;
};

// The defaults, as orch-server runs it.
class SqliteFixture : public SqliteFixtureBase {
 public:
  static constexpr const char* kName = "sqlite";
  SqliteFixture() : SqliteFixtureBase(SqliteOptions{}) {}
};

// Tiny group commits, one read connection, tiny compaction chunks: every boundary is crossed.
class SqliteTinyFixture : public SqliteFixtureBase {
 public:
  static constexpr const char* kName = "sqlite-tiny";
  SqliteTinyFixture() : SqliteFixtureBase(tiny()) {}

 private:
  static SqliteOptions tiny() {
    SqliteOptions o;
    o.max_batch = 2;
    o.read_connections = 1;
    o.compaction_batch = 3;
    return o;
  }
};

#ifdef ORCH_STORE_TEST_ETCD
// A fresh etcd cluster of `kMembers` per fixture (a new cluster starts at revision 0 for us, as
// the cases expect); reopen() opens a new client of the same members.
template <int kMembers>
class EtcdFixtureOf {
 public:
  EtcdFixtureOf() : cluster_(kMembers) { reopen(); }
  Store& store() { return *store_; }
  void reopen() {
    store_.reset();
    EtcdOptions options;
    options.endpoints = cluster_.endpoints();
    if (kMembers > 1) {
      // Start every client at another member, so that followers serve (and forward) too.
      std::rotate(options.endpoints.begin(), options.endpoints.begin() + (reopens_++ % kMembers),
                  options.endpoints.end());
    }
    auto opened = open_etcd_store(options);
    REQUIRE_MESSAGE(opened.ok(), opened.status().to_string());
    store_ = std::move(opened).value();
  }
  EtcdCluster& cluster() { return cluster_; }

 private:
  EtcdCluster cluster_;
  std::unique_ptr<Store> store_;
  int reopens_ = 1;
};

// One member.
class EtcdFixture : public EtcdFixtureOf<1> {
 public:
  static constexpr const char* kName = "etcd";
};

// Three members on loopback.
class Etcd3Fixture : public EtcdFixtureOf<3> {
 public:
  static constexpr const char* kName = "etcd-3";
};
#endif

}  // namespace orch::store::testing
