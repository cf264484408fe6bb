// IngestBatcher: group-committed arrival inserts (see ingest_batcher.h).
#include "server/ingest_batcher.h"

namespace enlace::server {

IngestBatcher::IngestBatcher(db::ArrivalStore* store, IngestOptions options)
    : store_(store),
      committer_(options.writers, options.max_batch, options.max_queue,
                 [this](std::vector<Pending>& batch) { Commit(batch); }) {}

bool IngestBatcher::Submit(db::NewArrival arrival, Done done) {
  return committer_.TrySubmit(Pending{std::move(arrival), std::move(done)});
}

void IngestBatcher::Commit(std::vector<Pending>& batch) {
  std::vector<db::NewArrival> arrivals;
  arrivals.reserve(batch.size());
  for (Pending& p : batch) arrivals.push_back(std::move(p.arrival));
  absl::StatusOr<std::vector<db::RecordResult>> results = store_->RecordBatch(arrivals);
  for (size_t i = 0; i < batch.size(); ++i) {
    if (results.ok()) {
      batch[i].done(std::move((*results)[i]));
    } else {
      db::RecordResult failed;
      failed.status = results.status();
      failed.outcome = enlace::v1::OUTCOME_REJECTED;
      batch[i].done(std::move(failed));
    }
  }
}

}  // namespace enlace::server
