"""Notification channels (email, WeCom group robot, WeCom application, local outbox)
behind one interface (`notifiers.base.Channel`), and the digest templates."""
