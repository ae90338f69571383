// A small map as a sorted vector: what a conversation keeps per person
// (supervisors joined, read marks). Nothing allocated while empty, 24 bytes
// inline (std::map: 48) and one element per entry instead of a tree node.
// The std::map calls the hub uses, with the same meaning; iterators and
// references are invalidated by an insertion.
#pragma once

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <vector>

namespace calma {

template <class K, class V>
class flat_map {
 public:
  using value_type = std::pair<K, V>;
  using iterator = typename std::vector<value_type>::iterator;
  using const_iterator = typename std::vector<value_type>::const_iterator;

  iterator begin() noexcept { return v_.begin(); }
  iterator end() noexcept { return v_.end(); }
  const_iterator begin() const noexcept { return v_.begin(); }
  const_iterator end() const noexcept { return v_.end(); }
  bool empty() const noexcept { return v_.empty(); }
  std::size_t size() const noexcept { return v_.size(); }

  const_iterator find(const K& k) const {
    auto it = lower(k);
    return it != v_.end() && it->first == k ? it : v_.end();
  }
  iterator find(const K& k) {
    auto it = lower(k);
    return it != v_.end() && it->first == k ? it : v_.end();
  }
  std::size_t count(const K& k) const { return find(k) != v_.end(); }
  const V& at(const K& k) const {
    auto it = find(k);
    if (it == v_.end()) throw std::out_of_range("flat_map::at");
    return it->second;
  }
  V& operator[](const K& k) {
    auto it = lower(k);
    if (it == v_.end() || it->first != k) it = v_.insert(it, value_type{k, V{}});
    return it->second;
  }

 private:
  iterator lower(const K& k) {
    return std::lower_bound(v_.begin(), v_.end(), k, [](const value_type& e, const K& x) { return e.first < x; });
  }
  const_iterator lower(const K& k) const {
    return std::lower_bound(v_.begin(), v_.end(), k, [](const value_type& e, const K& x) { return e.first < x; });
  }
  std::vector<value_type> v_;
};

/// A sorted vector as a set, for the few values of one key (a user's
/// connections): 24 bytes inline and one array, instead of std::set's 48 and
/// a 40-byte node per value. Iterated in order, as std::set.
template <class K>
class flat_set {
 public:
  using const_iterator = typename std::vector<K>::const_iterator;
  const_iterator begin() const noexcept { return v_.begin(); }
  const_iterator end() const noexcept { return v_.end(); }
  bool empty() const noexcept { return v_.empty(); }
  std::size_t size() const noexcept { return v_.size(); }
  std::size_t count(const K& k) const { return std::binary_search(v_.begin(), v_.end(), k); }
  void insert(const K& k) {
    auto it = std::lower_bound(v_.begin(), v_.end(), k);
    if (it == v_.end() || *it != k) v_.insert(it, k);
  }
  std::size_t erase(const K& k) {
    auto it = std::lower_bound(v_.begin(), v_.end(), k);
    if (it == v_.end() || *it != k) return 0;
    v_.erase(it);
    return 1;
  }

 private:
  std::vector<K> v_;
};

}  // namespace calma
