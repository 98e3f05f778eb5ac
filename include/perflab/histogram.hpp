// perflab::Histogram — an HDR (high dynamic range) latency histogram in the
// manner of HdrHistogram, plus HdrHistogram's V2 compressed encoding and its
// interval log format (.hlog), so HdrHistogram's own tools read what we write.
//
// A Histogram covers the integer values [0, highest_trackable_value] with a
// relative precision of `significant_figures` decimal digits: two values land
// in the same bucket ("are equivalent") only when they differ by less than
// 1 part in 10^significant_figures of their magnitude (and by less than
// lowest_discernible_value). Recording is a few bit operations and one add,
// never allocates and never throws.
//
// Thread-safety: a Histogram is NOT synchronized. The intended pattern is one
// Histogram per recording thread, merged with add() after the threads join (or
// after the per-thread histograms are handed over under the caller's own
// synchronization). Const member functions may run concurrently with each other.
//
// Errors: constructors and configuration checks throw std::invalid_argument;
// decoding and log reading throw perflab::HistogramFormatError naming what was
// malformed or which memory limit it would exceed; recording reports
// out-of-range values through its return value.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <iterator>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace perflab {

namespace detail {
struct HistogramAccess;
}  // namespace detail

/// One non-empty bucket, as produced by Histogram::recorded_buckets().
struct HistogramBucket {
  std::int64_t lowest_value = 0;      // lowest value equivalent to the bucket
  std::int64_t highest_value = 0;     // highest value equivalent to the bucket
  std::int64_t count = 0;             // values recorded in this bucket
  std::int64_t cumulative_count = 0;  // values recorded in this and every lower bucket
  double percentile = 0;              // 100 * cumulative_count / total_count
};

class Histogram {
 public:
  /// Creates an empty histogram tracking values in [0, highest_trackable_value]
  /// that tells apart values differing by lowest_discernible_value or by more
  /// than 1 part in 10^significant_figures, whichever is larger. The counts
  /// array is allocated here, once: (bucket_count() + 1) * sub_bucket_count() / 2
  /// counts of 8 bytes, e.g. 184 KB for an hour in microseconds (1..3.6e9) at
  /// 3 figures, 264 KB for an hour in nanoseconds at 3 figures, 36 KB at 2.
  /// Throws std::invalid_argument unless lowest_discernible_value >= 1,
  /// highest_trackable_value >= 2 * lowest_discernible_value and
  /// significant_figures is in 1..5 (and the combination fits in 63 bits).
  /// Throws std::bad_alloc when the counts array cannot be allocated.
  Histogram(std::int64_t lowest_discernible_value, std::int64_t highest_trackable_value,
            int significant_figures);

  /// Same as Histogram(1, highest_trackable_value, significant_figures).
  Histogram(std::int64_t highest_trackable_value, int significant_figures)
      : Histogram(1, highest_trackable_value, significant_figures) {}

  // Copies duplicate the counts array. A moved-from Histogram may only be
  // assigned to or destroyed.
  Histogram(const Histogram&) = default;
  Histogram(Histogram&&) noexcept = default;
  Histogram& operator=(const Histogram&) = default;
  Histogram& operator=(Histogram&&) noexcept = default;
  ~Histogram() = default;

  // ---- recording (hot path: inline, no allocation, no loop, no division) ----

  /// Records one occurrence of `value`. Returns true when recorded; returns
  /// false for a value < 0 or > highest_trackable_value(), which is not
  /// recorded but counted in overflow_count() so that it is never lost silently.
  bool record_value(std::int64_t value) noexcept { return record_values(value, 1); }

  /// Records `count` occurrences of `value`; returns as record_value(), and
  /// adds `count` to overflow_count() when the value is out of range.
  /// REQUIRES: count >= 0.
  bool record_values(std::int64_t value, std::int64_t count) noexcept {
    // One unsigned compare rejects both negative and too-large values.
    if (static_cast<std::uint64_t>(value) > static_cast<std::uint64_t>(highest_trackable_value_))
        [[unlikely]] {
      overflow_count_ += count;
      return false;
    }
    counts_[counts_index(value)] += count;
    total_count_ += count;
    return true;
  }

  /// Records `value` and back-fills coordinated omission the way HdrHistogram
  /// defines it: when value > expected_interval, also records
  /// value - expected_interval, value - 2 * expected_interval, ... down to
  /// (and including) the last one that is >= expected_interval. Use it when
  /// the recorder was itself stalled for `value` and requests that should have
  /// been issued every expected_interval were not. expected_interval <= 0
  /// disables the back-fill. Returns false (and back-fills nothing, since the
  /// stall length is then unknown) when value is out of range; the value is
  /// then counted in overflow_count(). Cost is O(value / expected_interval).
  bool record_corrected_value(std::int64_t value, std::int64_t expected_interval) noexcept {
    return record_corrected_values(value, 1, expected_interval);
  }

  /// record_corrected_value() for `count` occurrences of `value`; every
  /// back-filled value is recorded `count` times as well. REQUIRES: count >= 0.
  bool record_corrected_values(std::int64_t value, std::int64_t count,
                               std::int64_t expected_interval) noexcept {
    if (!record_values(value, count)) return false;
    if (expected_interval > 0 && value > expected_interval) [[unlikely]] {
      back_fill(value, count, expected_interval);
    }
    return true;
  }

  // ---- combining ----

  /// Adds every count of `other` to this histogram (merge). Each non-empty
  /// bucket of `other` counts as recorded at its lowest equivalent value: when
  /// that value is above this histogram's highest_trackable_value, the count
  /// goes to overflow_count() (as record_values() would put it), otherwise it
  /// is added to total_count(). When both have the same lowest_discernible_value
  /// and significant_figures the buckets coincide, so this is an exact bucket-by-
  /// bucket add. Otherwise the bucket is re-recorded (HdrHistogram does the
  /// same), so precision is that of the coarser of the two.
  /// other.overflow_count() is added to overflow_count(). `other` may be *this.
  void add(const Histogram& other) noexcept;

  /// Clears every count and overflow_count(); keeps the configuration and the
  /// allocation.
  void reset() noexcept;

  /// True when the configurations, every count and overflow_count() are equal.
  bool operator==(const Histogram& other) const noexcept;

  // ---- configuration ----

  std::int64_t lowest_discernible_value() const noexcept { return lowest_discernible_value_; }
  std::int64_t highest_trackable_value() const noexcept { return highest_trackable_value_; }
  int significant_figures() const noexcept { return significant_figures_; }
  /// Number of power-of-two buckets and of sub-buckets per bucket (the
  /// figures HdrHistogram prints as "Buckets" and "SubBuckets").
  int bucket_count() const noexcept { return bucket_count_; }
  std::int64_t sub_bucket_count() const noexcept {
    return std::int64_t{2} * sub_bucket_half_count_;
  }
  /// Length of the counts array (memory used is 8 bytes per count).
  std::size_t counts_length() const noexcept { return counts_.size(); }

  // ---- queries (O(counts_length()) scans unless said otherwise) ----

  /// Number of values recorded (not counting overflow_count()). O(1).
  std::int64_t total_count() const noexcept { return total_count_; }
  /// Number of values that record_* rejected as out of range. O(1).
  std::int64_t overflow_count() const noexcept { return overflow_count_; }

  /// Lowest equivalent value of the lowest non-empty bucket; 0 when empty.
  std::int64_t min() const noexcept;
  /// Highest equivalent value of the highest non-empty bucket; 0 when empty.
  /// Equals value_at_percentile(100).
  std::int64_t max() const noexcept;
  /// Mean and standard deviation over every recorded value, each taken at
  /// its bucket's median equivalent value; 0.0 when empty.
  double mean() const noexcept;
  double stddev() const noexcept;

  /// HdrHistogram's percentile: with n = ceil(p / 100 * total_count()) (at
  /// least 1; p is first lowered by one ulp so that round-off cannot push n
  /// into the next bucket), the highest equivalent value of the lowest bucket
  /// where the cumulative count reaches n. p == 0 gives min() instead.
  /// p outside [0, 100] (or NaN) is clamped into it. 0 when empty.
  std::int64_t value_at_percentile(double percentile) const noexcept;

  /// Count recorded in the bucket that `value` belongs to; 0 for a value
  /// outside the counts array. O(1).
  std::int64_t count_at_value(std::int64_t value) const noexcept;

  // Equivalence ranges. O(1). REQUIRES: value >= 0 (negative values are
  // treated as 0).
  /// Width of the bucket that `value` belongs to.
  std::int64_t size_of_equivalent_value_range(std::int64_t value) const noexcept;
  /// Lowest value in the bucket that `value` belongs to.
  std::int64_t lowest_equivalent_value(std::int64_t value) const noexcept;
  /// Highest value in the bucket that `value` belongs to.
  std::int64_t highest_equivalent_value(std::int64_t value) const noexcept;
  /// Middle of the bucket that `value` belongs to (used by mean()).
  std::int64_t median_equivalent_value(std::int64_t value) const noexcept;
  /// True when a and b fall in the same bucket.
  bool values_are_equivalent(std::int64_t a, std::int64_t b) const noexcept {
    return lowest_equivalent_value(a) == lowest_equivalent_value(b);
  }

  // ---- iteration ----

  /// Forward iterator over the non-empty buckets in increasing value order.
  /// Holds its current HistogramBucket by value: stepping never allocates.
  /// Invalidated by any change to the histogram.
  class RecordedBucketIterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = HistogramBucket;
    using difference_type = std::ptrdiff_t;
    using pointer = const HistogramBucket*;
    using reference = const HistogramBucket&;

    RecordedBucketIterator() = default;
    reference operator*() const noexcept { return bucket_; }
    pointer operator->() const noexcept { return &bucket_; }
    RecordedBucketIterator& operator++() noexcept;
    RecordedBucketIterator operator++(int) noexcept {
      RecordedBucketIterator old = *this;
      ++*this;
      return old;
    }
    friend bool operator==(const RecordedBucketIterator& a,
                           const RecordedBucketIterator& b) noexcept {
      return a.index_ == b.index_;
    }

   private:
    friend class Histogram;
    RecordedBucketIterator(const Histogram* histogram, std::size_t index) noexcept;
    void settle() noexcept;  // moves to the first non-empty bucket at or after index_

    const Histogram* histogram_ = nullptr;
    std::size_t index_ = 0;
    HistogramBucket bucket_;
  };

  /// The range returned by recorded_buckets(); usable in a range-for.
  class RecordedBuckets {
   public:
    RecordedBucketIterator begin() const noexcept { return RecordedBucketIterator(histogram_, 0); }
    RecordedBucketIterator end() const noexcept {
      return RecordedBucketIterator(histogram_, histogram_->counts_.size());
    }

   private:
    friend class Histogram;
    explicit RecordedBuckets(const Histogram* histogram) noexcept : histogram_(histogram) {}
    const Histogram* histogram_;
  };

  /// The non-empty buckets, lowest first, each with its cumulative count and
  /// percentile — what a report needs to draw a percentile curve.
  RecordedBuckets recorded_buckets() const noexcept { return RecordedBuckets(this); }

 private:
  friend struct detail::HistogramAccess;  // the codec reads and fills counts by index

  // Bucket b (b >= 1) holds sub-buckets [half, 2 * half) at a resolution of
  // 2^(b + unit_magnitude_); bucket 0 also holds [0, half). Counts are laid
  // out so that index = b * half + sub-bucket, which needs only a clz.
  std::size_t counts_index(std::int64_t value) const noexcept {
    const auto v = static_cast<std::uint64_t>(value);
    // Or-ing the mask pins every value below the first bucket's end to bucket 0,
    // and makes the operand non-zero, so the raw clz needs no zero check.
#if defined(__GNUC__)
    const int bucket = leading_zero_count_base_ - __builtin_clzll(v | sub_bucket_mask_);
#else
    const int bucket = leading_zero_count_base_ - std::countl_zero(v | sub_bucket_mask_);
#endif
    return (static_cast<std::size_t>(bucket) << sub_bucket_half_count_magnitude_) +
           static_cast<std::size_t>(v >> (bucket + unit_magnitude_));
  }
  std::int64_t value_from_index(std::size_t index) const noexcept;
  void back_fill(std::int64_t value, std::int64_t count, std::int64_t expected_interval) noexcept;

  std::int64_t lowest_discernible_value_;
  std::int64_t highest_trackable_value_;
  int significant_figures_;
  int unit_magnitude_;                   // floor(log2(lowest_discernible_value_))
  int sub_bucket_half_count_magnitude_;  // log2(sub_bucket_half_count_)
  int leading_zero_count_base_;          // 64 - unit_magnitude_ - half_count_magnitude - 1
  int bucket_count_;
  std::int64_t sub_bucket_half_count_;
  std::uint64_t sub_bucket_mask_;  // (2 * half - 1) << unit_magnitude_
  std::vector<std::int64_t> counts_;
  std::int64_t total_count_ = 0;
  std::int64_t overflow_count_ = 0;
};

// ---------------------------------------------------------------------------
// Encoding: HdrHistogram's V2 compressed histogram encoding.
//
// Layout (big-endian): cookie 0x1c849314, int32 length of the zlib stream,
// then a zlib (deflate with zlib header) stream of: cookie 0x1c849313, int32
// payload length, int32 normalizing index offset (always 0 here), int32
// significant figures, int64 lowest discernible value, int64 highest trackable
// value, double integer-to-double ratio (1.0), then the counts up to the last
// non-empty one as zig-zag LEB128 varints (9 bytes at most), a run of k > 1
// empty counts written as -k. overflow_count() is not part of the format.
// ---------------------------------------------------------------------------

/// Thrown by every decoder and by the log reader. what() names what was
/// malformed, prefixed with "line N: " when reading a log.
class HistogramFormatError : public std::runtime_error {
 public:
  explicit HistogramFormatError(const std::string& message, std::size_t line = 0)
      : std::runtime_error(line == 0 ? message : "line " + std::to_string(line) + ": " + message),
        line_(line) {}
  /// 1-based line of the log that was malformed; 0 outside a log.
  std::size_t line() const noexcept { return line_; }

 private:
  std::size_t line_;
};

/// Default for decode_histogram()'s max_counts_length: 2^20 counts (8 MiB).
/// Every configuration with up to 4 significant figures fits (the largest,
/// 1..INT64_MAX at 4 figures, has 819200 counts), and so do 5 figures up to a
/// highest_trackable_value of 2^24 - 1 (with lowest_discernible_value 1);
/// 1..INT64_MAX at 5 figures needs 6160384 counts (47 MiB) and a larger limit.
inline constexpr std::size_t kDefaultMaxCountsLength = std::size_t{1} << 20;

/// The V2 compressed encoding of `histogram`. Throws std::bad_alloc only.
std::vector<std::uint8_t> encode_histogram(const Histogram& histogram);

/// encode_histogram() as standard base64 with padding (an .hlog payload).
std::string encode_histogram_base64(const Histogram& histogram);

/// Decodes a V2 compressed encoding into a histogram with the encoded
/// configuration and counts. Throws HistogramFormatError for anything else:
/// truncated input, a wrong or unsupported cookie (V0/V1, uncompressed or
/// DoubleHistogram encodings), a zlib error, an invalid configuration, a
/// non-zero normalizing index offset, counts beyond the histogram's counts
/// array, negative or overflowing counts, and a configuration whose
/// counts_length() exceeds max_counts_length (the message gives both).
///
/// Memory: the input is hostile, so the header's lengths size nothing. The
/// payload is inflated and parsed 4 KiB at a time into a list of its non-zero
/// counts (16 bytes each, at most one per count and per payload byte the zlib
/// stream really holds); the result's counts array (8 bytes per count, at most
/// max_counts_length counts) is allocated only once the whole payload has
/// been checked. A rejected input therefore costs memory in proportion to its
/// inflated size; an accepted one at most 8 * max_counts_length bytes plus
/// that list. Never reads out of bounds. Throws std::bad_alloc when memory
/// runs out within those bounds.
[[nodiscard]] Histogram decode_histogram(std::span<const std::uint8_t> bytes,
                                         std::size_t max_counts_length = kDefaultMaxCountsLength);

/// decode_histogram() of base64 text (padding optional, no whitespace).
/// Throws HistogramFormatError also for invalid base64. The decoded bytes
/// (3/4 of the text) are held while decoding.
[[nodiscard]] Histogram decode_histogram_base64(
    std::string_view base64, std::size_t max_counts_length = kDefaultMaxCountsLength);

// ---------------------------------------------------------------------------
// Interval log (.hlog), format version 1.3, as HdrHistogram's
// HistogramLogWriter writes it and HistogramLogReader/HistogramLogProcessor
// read it:
//
//   #[Histogram log format version 1.3]
//   #[StartTime: 1700000000.000 (seconds since epoch), 2023-11-14T22:13:20Z]
//   #[BaseTime: 1700000000.000 (seconds since epoch)]
//   "StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"
//   0.000,1.000,12.345,HISTFAAA...
//   Tag=get,1.000,1.000,7.100,HISTFAAA...
//
// Timestamps are in seconds, relative to BaseTime when one is given.
// Interval_Max is histogram.max() divided by the writer's max-value unit
// ratio; HdrHistogram's default ratio, used here too, is 1e6 (values recorded
// in nanoseconds, Interval_Max in milliseconds). A caller recording
// microseconds passes 1000.0 to keep Interval_Max in milliseconds.
// ---------------------------------------------------------------------------

/// HdrHistogram's default max-value unit ratio (nanoseconds to milliseconds).
inline constexpr double kDefaultMaxValueUnitRatio = 1e6;

/// One interval line of a log.
struct HistogramLogInterval {
  std::string tag;               // empty when the line has no "Tag=" prefix
  double start_timestamp_s = 0;  // as written (relative to the base time if any)
  double length_s = 0;           // Interval_Length
  double interval_max = 0;       // Interval_Max as written (the reader only)
  Histogram histogram;           // the decoded interval histogram
};

/// A whole log as read back.
struct HistogramLog {
  std::optional<double> start_time_s;  // from "#[StartTime: ...]", seconds since epoch
  std::optional<double> base_time_s;   // from "#[BaseTime: ...]", seconds since epoch
  std::vector<HistogramLogInterval> intervals;
};

/// Writes a log to a std::ostream, line by line, so a recorder can emit one
/// interval at a time. Stream errors are left in the stream's state (check
/// out.good()). Not synchronized: one writer per stream.
class HistogramLogWriter {
 public:
  /// REQUIRES: `out` outlives the writer. Throws std::invalid_argument unless
  /// max_value_unit_ratio > 0.
  explicit HistogramLogWriter(std::ostream& out,
                              double max_value_unit_ratio = kDefaultMaxValueUnitRatio);

  /// Writes the format version, StartTime and BaseTime (both start_time_s,
  /// seconds since the epoch) and the legend: what HdrHistogram writes before
  /// the first interval. Interval timestamps are then relative to start_time_s.
  void write_header(double start_time_s);

  void write_format_version();                 // "#[Histogram log format version 1.3]"
  void write_start_time(double start_time_s);  // "#[StartTime: ...]"
  void write_base_time(double base_time_s);    // "#[BaseTime: ...]"
  void write_legend();                         // the "StartTimestamp",... line
  /// "#" + text. Throws std::invalid_argument when text contains a line break.
  void write_comment(std::string_view text);

  /// One interval line: optional "Tag=<tag>,", start and length (seconds,
  /// 3 decimals), Interval_Max (histogram.max() / ratio, 3 decimals) and the
  /// base64 V2 compressed histogram. Throws std::invalid_argument when the tag
  /// contains a comma, space or line break (HdrHistogram forbids them).
  void write_interval(double start_timestamp_s, double length_s, const Histogram& histogram,
                      std::string_view tag = {});

 private:
  std::ostream& out_;
  double max_value_unit_ratio_;
};

/// Writes a complete log: version, StartTime and BaseTime when set in `log`,
/// legend, then every interval (interval_max is recomputed from the histogram).
void write_histogram_log(std::ostream& out, const HistogramLog& log,
                         double max_value_unit_ratio = kDefaultMaxValueUnitRatio);
/// write_histogram_log() into a string.
std::string format_histogram_log(const HistogramLog& log,
                                 double max_value_unit_ratio = kDefaultMaxValueUnitRatio);

/// Reads a log one interval at a time, so memory stays that of one interval
/// whatever the length of the log. Comment lines, the legend and empty lines
/// are skipped; StartTime and BaseTime are remembered as they appear.
/// Not synchronized.
class HistogramLogReader {
 public:
  /// REQUIRES: `in` outlives the reader. Every interval histogram is decoded
  /// with this max_counts_length (see decode_histogram()).
  explicit HistogramLogReader(std::istream& in,
                              std::size_t max_counts_length = kDefaultMaxCountsLength)
      : in_(in), max_counts_length_(max_counts_length) {}

  /// The next interval, or std::nullopt at the end of the input. Throws
  /// HistogramFormatError (with the line number) for a malformed StartTime or
  /// BaseTime, a line without the four fields, a field that is not a number,
  /// or a histogram that does not decode (including one over max_counts_length).
  std::optional<HistogramLogInterval> next_interval();

  std::optional<double> start_time_s() const noexcept { return start_time_s_; }
  std::optional<double> base_time_s() const noexcept { return base_time_s_; }
  /// 1-based number of the last line read; 0 before the first.
  std::size_t line_number() const noexcept { return line_number_; }

 private:
  std::istream& in_;
  std::size_t max_counts_length_;
  std::size_t line_number_ = 0;
  std::string line_;
  std::optional<double> start_time_s_;
  std::optional<double> base_time_s_;
};

/// Default for HistogramLogLimits::max_total_counts_length: 2^25 counts
/// (256 MiB), e.g. about 990 intervals of an hour in nanoseconds at 3 figures.
inline constexpr std::size_t kDefaultMaxLogCountsLength = std::size_t{1} << 25;

/// Memory limits of read_histogram_log(). Every interval it keeps holds a
/// whole counts array, so a few bytes of log line can cost megabytes.
struct HistogramLogLimits {
  /// Per interval, as decode_histogram()'s max_counts_length.
  std::size_t max_counts_length = kDefaultMaxCountsLength;
  /// Sum of counts_length() over every interval kept (8 bytes per count).
  std::size_t max_total_counts_length = kDefaultMaxLogCountsLength;
};

/// Reads a whole log; throws HistogramFormatError as HistogramLogReader does,
/// and also (naming the line) at the interval that would take the kept counts
/// over limits.max_total_counts_length. Peak memory is therefore at most
/// 8 * (max_total_counts_length + max_counts_length) bytes of counts plus one
/// line and one interval's decoding (see decode_histogram()). For longer logs
/// use HistogramLogReader, which keeps one interval at a time.
HistogramLog read_histogram_log(std::istream& in, const HistogramLogLimits& limits = {});
HistogramLog read_histogram_log(std::string_view text, const HistogramLogLimits& limits = {});

}  // namespace perflab
