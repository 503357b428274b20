package queue

// Remove takes the queued fault with faultID out of the queue because its
// source reported that the fault is over. The journal removal is written
// before anything changes in memory: on an error the fault stays queued
// and the caller may retry. removed is false when no such fault is queued
// (it was never queued, has left, or is being worked on).
func (q *Queue) Remove(faultID string) (removed bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := -1
	for j, it := range q.items {
		if it.Event.FaultID == faultID {
			i = j
			break
		}
	}
	if i < 0 {
		return false, nil
	}
	it := q.items[i]
	if q.journal != nil && it.Seq != 0 {
		if err := q.journal.Remove(q.cluster, it.Seq); err != nil {
			return false, err
		}
	}
	q.items = append(q.items[:i], q.items[i+1:]...)
	q.release(faultID)
	q.depth.Set(float64(len(q.items)))
	return true, nil
}
