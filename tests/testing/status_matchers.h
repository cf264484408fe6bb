// A gmock matcher for absl::Status and absl::StatusOr<T>. Debian's Abseil
// (20220623) ships no absl/status/status_matchers.h, so tests use this one:
//
//   EXPECT_THAT(DecodePageToken("x", fp), StatusIs(absl::StatusCode::kInvalidArgument));
//   EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 3")));
//   EXPECT_THAT(policy_or, StatusIs(absl::StatusCode::kOk));
//
// The message matcher sees the status message as a std::string; it defaults
// to "anything". On failure the actual status is printed in full.
#ifndef ENLACE_TESTS_TESTING_STATUS_MATCHERS_H_
#define ENLACE_TESTS_TESTING_STATUS_MATCHERS_H_

#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace enlace::testing {
namespace internal_status {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }

template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// Polymorphic so that one StatusIs(...) works for Status and any StatusOr<T>.
class StatusIsMatcher {
 public:
  StatusIsMatcher(absl::StatusCode code, ::testing::Matcher<const std::string&> message)
      : code_(code), message_(std::move(message)) {}

  template <typename T>
  bool MatchAndExplain(const T& value, ::testing::MatchResultListener* listener) const {
    const absl::Status& status = GetStatus(value);
    *listener << "whose status is " << status;
    if (status.code() != code_) return false;
    ::testing::StringMatchResultListener message_listener;
    if (!message_.MatchAndExplain(std::string(status.message()), &message_listener)) {
      if (!message_listener.str().empty()) *listener << ", " << message_listener.str();
      return false;
    }
    return true;
  }

  void DescribeTo(std::ostream* os) const {
    *os << "has status code " << absl::StatusCodeToString(code_) << " and a message that ";
    message_.DescribeTo(os);
  }

  void DescribeNegationTo(std::ostream* os) const {
    *os << "does not have status code " << absl::StatusCodeToString(code_)
        << " or has a message that ";
    message_.DescribeNegationTo(os);
  }

 private:
  absl::StatusCode code_;
  ::testing::Matcher<const std::string&> message_;
};

}  // namespace internal_status

// Matches a Status, or the status of a StatusOr, with code `code` and a
// message matching `message` (e.g. ::testing::HasSubstr("page_token")).
template <typename MessageMatcher>
::testing::PolymorphicMatcher<internal_status::StatusIsMatcher> StatusIs(absl::StatusCode code,
                                                                         MessageMatcher&& message) {
  return ::testing::MakePolymorphicMatcher(internal_status::StatusIsMatcher(
      code, ::testing::SafeMatcherCast<const std::string&>(std::forward<MessageMatcher>(message))));
}

inline ::testing::PolymorphicMatcher<internal_status::StatusIsMatcher> StatusIs(
    absl::StatusCode code) {
  return StatusIs(code, ::testing::_);
}

}  // namespace enlace::testing

#endif  // ENLACE_TESTS_TESTING_STATUS_MATCHERS_H_
