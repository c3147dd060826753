//! A migration that has run somewhere can never change, and a new one goes after every other.
//! sqlx refuses to start on a database where an applied migration's text differs from the
//! binary's ("previously applied but has been modified"), and it would run a new migration
//! numbered below one already applied out of order. `migrations.lock` holds each migration's
//! version and checksum, in the order they were added: when you add one, append the line this
//! test prints for it.

fn lock() -> Vec<(i64, String)> {
    include_str!("migrations.lock")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (version, checksum) = l.split_once(' ').expect("a lock line is `version checksum`");
            (version.parse().expect("a version"), checksum.trim().to_string())
        })
        .collect()
}

#[test]
fn migrations_that_ran_are_unchanged_and_new_ones_come_after_them() {
    let migrator = sqlx::migrate!("../../migrations");
    let locked = lock();
    for pair in locked.windows(2) {
        assert!(
            pair[0].0 < pair[1].0,
            "migration {} was added after {} but would run before it",
            pair[1].0,
            pair[0].0
        );
    }
    for m in migrator.iter() {
        let checksum = hex::encode(&m.checksum);
        match locked.iter().find(|l| l.0 == m.version) {
            Some((_, expected)) => assert_eq!(
                &checksum, expected,
                "migration {} ({}) changed after it was added: put the change in a new migration",
                m.version, m.description
            ),
            None => panic!(
                "migration {} ({}) is not in crates/store/tests/migrations.lock: append\n{} {checksum}",
                m.version, m.description, m.version
            ),
        }
    }
    for (version, _) in &locked {
        assert!(
            migrator.version_exists(*version),
            "migration {version} is locked but gone: a database that ran it would refuse to start"
        );
    }
}
