//! The names the name and email generators pick from (common given and
//! family names; their longest bound the email generator's length).

/// Given names.
pub const FIRST_NAMES: &[&str] = &[
    "Ada", "Alan", "Alice", "Amara", "Ana", "Anders", "Aria", "Arjun", "Ben", "Bianca", "Carlos",
    "Chen", "Chloe", "Daniel", "Dara", "David", "Elena", "Eli", "Emma", "Farah", "Felix", "Grace",
    "Hana", "Hugo", "Ines", "Isaac", "Ivan", "Jada", "James", "Jin", "Julia", "Kai", "Karim",
    "Lara", "Leo", "Lina", "Lucas", "Maya", "Mateo", "Mei", "Mia", "Nadia", "Noah", "Nora", "Omar",
    "Olga", "Pablo", "Priya", "Quinn", "Rosa", "Sam", "Sara", "Sofia", "Tariq", "Tom", "Uma",
    "Victor", "Wei", "Yara", "Yusuf", "Zoe",
];

/// Family names.
pub const LAST_NAMES: &[&str] = &[
    "Abbott", "Adeyemi", "Alvarez", "Andersen", "Baker", "Bauer", "Becker", "Brown", "Chen",
    "Clarke", "Costa", "Cruz", "Dubois", "Evans", "Fischer", "Garcia", "Gupta", "Haddad", "Hansen",
    "Hughes", "Ito", "Jensen", "Johnson", "Kaur", "Kim", "Kowalski", "Larsen", "Lee", "Lopez",
    "Martin", "Meyer", "Moreau", "Murphy", "Nakamura", "Nguyen", "Novak", "Okafor", "Olsen",
    "Park", "Patel", "Petrov", "Quinn", "Reyes", "Rossi", "Santos", "Schmidt", "Silva", "Singh",
    "Smith", "Suzuki", "Tanaka", "Taylor", "Torres", "Varga", "Wagner", "Walker", "Wang", "Weber",
    "Wilson", "Yilmaz", "Zhang",
];
