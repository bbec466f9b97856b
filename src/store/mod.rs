//! sled-backed task store and content-addressed cache.
