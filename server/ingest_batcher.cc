// IngestBatcher: group-committed arrival inserts (see ingest_batcher.h).
#include "server/ingest_batcher.h"

#include "absl/hash/hash.h"
#include "db/crash_points.h"

namespace enlace::server {

IngestBatcher::IngestBatcher(db::ArrivalStore* store, IngestOptions options) : store_(store) {
  for (int i = 0; i < options.writers; ++i) {
    shards_.push_back(std::make_unique<GroupCommitter<Pending>>(
        /*writers=*/1, options.max_batch, options.max_queue,
        [this](std::vector<Pending>& batch) { Commit(batch); }));
  }
}

bool IngestBatcher::Submit(db::NewArrival arrival, Done done) {
  size_t shard = absl::HashOf(arrival.submitted_by, arrival.arrival.external_id()) % shards_.size();
  return shards_[shard]->TrySubmit(Pending{std::move(arrival), std::move(done)});
}

void IngestBatcher::Commit(std::vector<Pending>& batch) {
  std::vector<db::NewArrival> arrivals;
  arrivals.reserve(batch.size());
  for (Pending& p : batch) arrivals.push_back(std::move(p.arrival));
  absl::StatusOr<std::vector<db::RecordResult>> results = store_->RecordBatch(arrivals);
  if (results.ok()) db::CrashPoint("after_commit_before_answer");
  for (size_t i = 0; i < batch.size(); ++i) {
    if (results.ok() && i == batch.size() / 2) db::CrashPoint("mid_answers");
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
