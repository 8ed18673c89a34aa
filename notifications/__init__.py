"""Push notifications (SPEC §6): devices, outbox, delivery worker, FCM transport."""
