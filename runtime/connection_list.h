// ConnectionList: an intrusive FIFO of a worker's connections that wait for something — a
// concurrency slot, or a coalesced cache miss's leader. Linked through the connection's own wait
// hook, so adding and removing allocate nothing; a connection is in at most one list at a time.
#pragma once

#include "runtime/connection.h"

namespace edgefn::runtime {

class ConnectionList {
 public:
  void push_back(Connection& connection) {
    Connection::WaitHook& hook = connection.wait_hook_;
    hook.prev = tail_;
    hook.next = nullptr;
    (tail_ ? tail_->wait_hook_.next : head_) = &connection;
    tail_ = &connection;
  }

  void remove(Connection& connection) {
    Connection::WaitHook& hook = connection.wait_hook_;
    (hook.prev ? hook.prev->wait_hook_.next : head_) = hook.next;
    (hook.next ? hook.next->wait_hook_.prev : tail_) = hook.prev;
    hook.prev = hook.next = nullptr;
  }

  Connection* front() const { return head_; }
  static Connection* next(const Connection& connection) { return connection.wait_hook_.next; }

 private:
  Connection* head_ = nullptr;
  Connection* tail_ = nullptr;
};

}  // namespace edgefn::runtime
