// A FIFO for a conversation's bounded timeline (anger points): costs nothing
// while empty and only what it holds while small. (libstdc++'s std::deque
// allocates ~580 bytes as it is constructed: a conversation with one point
// paid for seven.) Once the bound is reached (the owner pops the front after
// each push beyond it) the storage is used as a ring and grows no more; it
// grows by a quarter at a time, so a full timeline does not sit in a vector
// twice its size.
#pragma once

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <utility>
#include <vector>

namespace calma {

template <class T>
class small_ring {
 public:
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = const T*;
    using reference = const T&;
    const_iterator() = default;
    const_iterator(const small_ring* r, std::size_t i) : r_(r), i_(i) {}
    reference operator*() const { return (*r_)[i_]; }
    pointer operator->() const { return &(*r_)[i_]; }
    const_iterator& operator++() {
      ++i_;
      return *this;
    }
    const_iterator operator++(int) {
      auto t = *this;
      ++i_;
      return t;
    }
    bool operator==(const const_iterator& o) const { return i_ == o.i_; }
    bool operator!=(const const_iterator& o) const { return i_ != o.i_; }

   private:
    const small_ring* r_ = nullptr;
    std::size_t i_ = 0;
  };

  bool empty() const noexcept { return n_ == 0; }
  std::size_t size() const noexcept { return n_; }
  const T& operator[](std::size_t i) const { return v_[(head_ + i) % v_.size()]; }
  T& operator[](std::size_t i) { return v_[(head_ + i) % v_.size()]; }
  const T& front() const { return (*this)[0]; }
  T& front() { return (*this)[0]; }
  const T& back() const { return (*this)[n_ - 1]; }
  T& back() { return (*this)[n_ - 1]; }
  const_iterator begin() const { return {this, 0}; }
  const_iterator end() const { return {this, n_}; }

  void push_back(T x) {
    if (n_ < v_.size()) {  // a free slot in the ring
      (*this)[n_] = std::move(x);
      ++n_;
      return;
    }
    if (head_ != 0) {  // full and wrapped: straighten it before it grows
      std::rotate(v_.begin(), v_.begin() + static_cast<std::ptrdiff_t>(head_), v_.end());
      head_ = 0;
    }
    if (v_.size() == v_.capacity()) v_.reserve(v_.capacity() + std::max<std::size_t>(2, v_.capacity() / 4));
    v_.push_back(std::move(x));
    ++n_;
  }

  void pop_front() {
    v_[head_] = T{};  // what the point held goes now
    head_ = (head_ + 1) % v_.size();
    if (--n_ == 0) clear();
  }

  void clear() noexcept {
    std::vector<T>().swap(v_);
    head_ = n_ = 0;
  }

 private:
  std::vector<T> v_;  // the ring's slots (all of them constructed)
  std::size_t head_ = 0;
  std::size_t n_ = 0;
};

}  // namespace calma
