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
// A fresh single-member etcd per fixture (a new cluster starts at revision 0 for us, as the cases
// expect); reopen() opens a new client of the same member.
class EtcdFixture {
 public:
  static constexpr const char* kName = "etcd";
  EtcdFixture() : cluster_(1) { reopen(); }
  Store& store() { return *store_; }
  void reopen() {
    store_.reset();
    EtcdOptions options;
    options.endpoints = cluster_.endpoints();
    auto opened = open_etcd_store(options);
    REQUIRE_MESSAGE(opened.ok(), opened.status().to_string());
    store_ = std::move(opened).value();
  }
  EtcdCluster& cluster() { return cluster_; }

 private:
  EtcdCluster cluster_;
  std::unique_ptr<Store> store_;
};
#endif

}  // namespace orch::store::testing
