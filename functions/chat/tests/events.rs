//! Every FC event in `functions/chat/events/` (the files `s local invoke` takes) gets the status
//! its name promises from the real `chat` binary's `POST /invoke`.

#[tokio::test]
async fn every_event_file_gets_its_expected_status() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let replayed = test_support::process::replay_events(env!("CARGO_BIN_EXE_chat"), &dir).await;
    assert!(replayed >= 6, "only {replayed} event files");
}
