package queue

// OnReady sets fn to be called whenever an item may have become available
// to take: when one is added, and when a consumer leaves one behind (the
// moments Wait wakes for). It lets a consumer run only while there is work
// instead of keeping a goroutine parked on every idle queue. fn is called
// with the queue's lock held, so that it cannot miss an item that arrives
// while a consumer leaves (see WhenEmpty); it must be quick and must not
// call the queue. A later call replaces fn; nil removes it.
func (q *Queue) OnReady(fn func()) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.onReady = fn
}

// WhenEmpty calls fn, with the queue's lock held, if the queue holds no
// item, and reports whether it did. A consumer that counts itself out in
// fn cannot miss an item: one added later finds it counted out when
// OnReady's function runs. fn must not call the queue.
func (q *Queue) WhenEmpty(fn func()) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) > 0 {
		return false
	}
	fn()
	return true
}
