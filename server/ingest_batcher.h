// Arrival ingest with group commit: records from every concurrent
// RecordArrivals stream and RecordArrival call are queued here, and writer
// threads store them in batches (multi-row INSERTs, one transaction per
// batch, durable commit). A record's completion runs only after its batch
// committed, so a response sent from it never acknowledges unstored data.
//
// Each writer owns a shard of the key space (submitter, external_id): all
// records with one key go through one queue and one writer, in the order
// they were submitted. So when a stream sends two versions of one record,
// the first one sent is the one stored, whatever the batching.
#ifndef ENLACE_SERVER_INGEST_BATCHER_H_
#define ENLACE_SERVER_INGEST_BATCHER_H_

#include <functional>
#include <memory>
#include <vector>

#include "db/arrival_store.h"
#include "server/group_commit.h"

namespace enlace::server {

struct IngestOptions {
  int writers = 2;  // concurrent batch transactions, one per key shard
  size_t max_batch = 500;  // records per transaction
  size_t max_queue = 50000;  // records waiting per shard; beyond: RESOURCE_EXHAUSTED
};

class IngestBatcher {
 public:
  using Done = std::function<void(db::RecordResult)>;

  // `store` must outlive this object. The destructor commits what is queued.
  IngestBatcher(db::ArrivalStore* store, IngestOptions options);

  // Queues `arrival`; `done` runs exactly once on a writer thread with the
  // record's result (a failed batch gives every record the batch's error).
  // Returns false, without calling `done`, when the queue is full.
  bool Submit(db::NewArrival arrival, Done done);

 private:
  struct Pending {
    db::NewArrival arrival;
    Done done;
  };
  void Commit(std::vector<Pending>& batch);

  db::ArrivalStore* const store_;
  std::vector<std::unique_ptr<GroupCommitter<Pending>>> shards_;
};

}  // namespace enlace::server

#endif  // ENLACE_SERVER_INGEST_BATCHER_H_
