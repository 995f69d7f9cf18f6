//! The SQL behind mappings, as named statements. Each is a complete statement known at compile
//! time, written in the dialect of [`crate::raw`] (`$n` parameters, `IDS($n)` for a JSON array of
//! ids), with its parameters listed beside it. They are composed from the conditions below by
//! `concat!`, so one rule (which org groups a mapping reuses, say) is written once and the
//! statements that apply it cannot drift apart.
//!
//! Every statement takes the enterprise's id as `$1`; `now` is always the last parameter.

/// The org groups a mapping reuses, as a condition on `org_groups`: unfed, not built in, of the
/// enterprise `$1` and selected by `org_groups` (a condition on `org_groups`), named like an IdP
/// group that `groups` (a condition on `g`) selects and that feeds no other group of their
/// organization. Found from the unfed groups, which are few next to the pairs a "map all"
/// chunk covers.
macro_rules! reusable {
    (groups: $groups:literal, org_groups: $org_groups:literal) => {
        concat!(
            "org_groups.idp_group_id IS NULL AND org_groups.builtin = false AND org_groups.organization_id IN \
             (SELECT o.id FROM organizations o WHERE o.enterprise_id = $1) AND (",
            $org_groups,
            ") AND EXISTS (SELECT 1 FROM idp_groups g WHERE g.enterprise_id = $1 \
             AND g.display_name = org_groups.name AND (",
            $groups,
            ") AND NOT EXISTS (SELECT 1 FROM org_groups f WHERE f.idp_group_id = g.id \
             AND f.organization_id = org_groups.organization_id))"
        )
    };
}

/// JIT's rule as a condition on `org_groups`: the non-built-in groups of the enterprise `$1`
/// named exactly like an IdP group `groups` selects, not fed by it yet, and either unfed or fed
/// by an IdP group of another name (a group reused in SCIM mode whose IdP group was then
/// renamed: by name, it is the newcomer's). Found from the IdP groups, one probe per
/// organization each.
macro_rules! linkable_by_name {
    (groups: $groups:literal) => {
        concat!(
            "org_groups.id IN (SELECT og.id FROM idp_groups g JOIN organizations o ON o.enterprise_id = g.enterprise_id \
             JOIN org_groups og ON og.organization_id = o.id AND og.name = g.display_name \
             WHERE g.enterprise_id = $1 AND (",
            $groups,
            ") AND og.builtin = false \
             AND (og.idp_group_id IS NULL OR NOT EXISTS \
             (SELECT 1 FROM idp_groups cur WHERE cur.id = og.idp_group_id AND cur.display_name = og.name)) \
             AND NOT EXISTS (SELECT 1 FROM org_groups f WHERE f.idp_group_id = g.id AND f.organization_id = o.id))"
        )
    };
}

/// Feeds the org groups a condition selects from the IdP group of the enterprise `$1` of
/// exactly their name, at `now`. A group created for that IdP group before (its id leads with
/// the IdP group's) follows its renames again; any other does not.
macro_rules! feed_by_name {
    (now: $now:literal, which: $($which:tt)+) => {
        concat!(
            "UPDATE org_groups SET updated_at = ",
            $now,
            ", idp_group_id = (SELECT g.id FROM idp_groups g WHERE g.enterprise_id = $1 \
             AND g.display_name = org_groups.name), created_by_mapping = COALESCE((SELECT \
             substr(org_groups.id, 1, length(g.id) + 1) = g.id || ':' FROM idp_groups g \
             WHERE g.enterprise_id = $1 AND g.display_name = org_groups.name), false) WHERE ",
            $($which)+
        )
    };
}

/// Drops the `sso` members that the org groups a condition selects still carry from before
/// memberships were derived (the groups are about to be reused).
macro_rules! drop_sso_copies {
    ($($which:tt)+) => {
        concat!(
            "DELETE FROM org_group_members WHERE source = 'sso' AND group_id IN (SELECT id FROM org_groups WHERE ",
            $($which)+,
            ")"
        )
    };
}

/// Creates an org group, fed, for every IdP group `groups` selects in every organization
/// `organizations` (a condition on `o`) selects, unless the organization has a group of that
/// name; never `Members`. A created group's id leads with its IdP group's, so that a chunk of
/// "map all", which works by IdP group, writes its rows together; `token`, new per call, keeps
/// it unique when the same pair is mapped again after an unmapping.
macro_rules! create_fed {
    (groups: $groups:literal, organizations: $organizations:literal, token: $token:literal, now: $now:literal) => {
        concat!(
            "INSERT INTO org_groups (id, enterprise_id, organization_id, name, description, builtin, idp_group_id, \
             created_by_mapping, created_at, updated_at) \
             SELECT g.id || ':' || o.id || ':' || ",
            $token,
            ", g.enterprise_id, o.id, g.display_name, 'Fed by the identity provider', false, g.id, true, ",
            $now,
            ", ",
            $now,
            " FROM idp_groups g JOIN organizations o ON o.enterprise_id = g.enterprise_id \
             WHERE g.enterprise_id = $1 AND (",
            $groups,
            ") AND ",
            $organizations,
            " AND g.display_name <> 'Members' ON CONFLICT DO NOTHING"
        )
    };
}

/// Maps IdP groups onto organizations in three set-based statements, whatever the sizes:
/// (1) the `sso` copies that the groups about to be reused still carry go, (2) unfed org groups
/// of the IdP group's name are reused, (3) the other org groups are created, fed. A name already
/// taken by a group that another IdP group feeds is left as it is (the caller reports it).
pub(super) struct MapPairs {
    pub drop_sso_copies: &'static str,
    pub reuse: &'static str,
    pub create: &'static str,
}

/// Maps the IdP groups `$2` (a JSON array of ids) onto organization `$3`. `reuse` takes `now`
/// as `$4`; `create` takes a new token as `$4` and `now` as `$5`.
pub(super) const MAP_ONTO_ORGANIZATION: MapPairs = MapPairs {
    drop_sso_copies: drop_sso_copies!(
        reusable!(groups: "g.id IN (IDS($2))", org_groups: "org_groups.organization_id = $3")
    ),
    reuse: feed_by_name!(
        now: "$4",
        which: reusable!(groups: "g.id IN (IDS($2))", org_groups: "org_groups.organization_id = $3")
    ),
    create: create_fed!(groups: "g.id IN (IDS($2))", organizations: "o.id = $3", token: "$4", now: "$5"),
};

/// Maps the IdP groups `$2` (a JSON array of ids) onto every organization of the enterprise
/// (a chunk of "map all"). `reuse` takes `now` as `$3`; `create` takes a new token as `$3` and
/// `now` as `$4`.
pub(super) const MAP_ONTO_EVERY_ORGANIZATION: MapPairs = MapPairs {
    drop_sso_copies: drop_sso_copies!(reusable!(groups: "g.id IN (IDS($2))", org_groups: "true")),
    reuse: feed_by_name!(now: "$3", which: reusable!(groups: "g.id IN (IDS($2))", org_groups: "true")),
    create: create_fed!(groups: "g.id IN (IDS($2))", organizations: "true", token: "$3", now: "$4"),
};

/// Unmaps the IdP groups `$2` (a JSON array of ids) from organization `$1` at `now` (`$3`): the
/// org groups stay, unfed. (The one statement here whose `$1` is an organization, not the
/// enterprise: the organization says which enterprise.)
pub(super) const UNMAP_FROM_ORGANIZATION: &str = "UPDATE org_groups SET idp_group_id = NULL, \
    created_by_mapping = false, updated_at = $3 WHERE organization_id = $1 AND idp_group_id IN (IDS($2))";

/// JIT's rule for every IdP group of the enterprise (switching back to JIT mode); `now` is `$2`.
pub(super) const LINK_EVERY_GROUP_BY_NAME: &str = feed_by_name!(now: "$2", which: linkable_by_name!(groups: "true"));

/// JIT's rule for the IdP groups `$2` (a JSON array of ids, first seen at a sign-in); `now`
/// is `$3`.
pub(super) const LINK_IDP_GROUPS_BY_NAME: &str =
    feed_by_name!(now: "$3", which: linkable_by_name!(groups: "g.id IN (IDS($2))"));

/// JIT's rule for org group `$2`, just created: fed by the IdP group of its name, if one is
/// there and feeds no other group of its organization; `now` is `$3`.
pub(super) const LINK_ORG_GROUP_BY_NAME: &str =
    feed_by_name!(now: "$3", which: reusable!(groups: "true", org_groups: "org_groups.id = $2"));

#[cfg(test)]
mod tests {
    use super::*;

    /// The highest `$n` a statement names, and whether it names every one below.
    fn parameters(sql: &str) -> (usize, bool) {
        let mut seen = std::collections::BTreeSet::new();
        for (i, _) in sql.match_indices('$') {
            let digits: String = sql[i + 1..].chars().take_while(char::is_ascii_digit).collect();
            seen.insert(digits.parse::<usize>().unwrap_or(0));
        }
        let highest = seen.iter().max().copied().unwrap_or(0);
        (highest, (1..=highest).all(|n| seen.contains(&n)))
    }

    #[test]
    fn every_statement_uses_exactly_the_parameters_it_documents() {
        for (sql, expected) in [
            (MAP_ONTO_ORGANIZATION.drop_sso_copies, 3),
            (MAP_ONTO_ORGANIZATION.reuse, 4),
            (MAP_ONTO_ORGANIZATION.create, 5),
            (MAP_ONTO_EVERY_ORGANIZATION.drop_sso_copies, 2),
            (MAP_ONTO_EVERY_ORGANIZATION.reuse, 3),
            (MAP_ONTO_EVERY_ORGANIZATION.create, 4),
            (UNMAP_FROM_ORGANIZATION, 3),
            (LINK_EVERY_GROUP_BY_NAME, 2),
            (LINK_IDP_GROUPS_BY_NAME, 3),
            (LINK_ORG_GROUP_BY_NAME, 3),
        ] {
            assert_eq!(parameters(sql), (expected, true), "{sql}");
        }
    }

    #[test]
    fn the_built_in_group_is_never_created_for_a_mapping() {
        let never = format!("g.display_name <> '{}'", crate::group::MEMBERS_GROUP);
        assert!(MAP_ONTO_ORGANIZATION.create.contains(&never));
        assert!(MAP_ONTO_EVERY_ORGANIZATION.create.contains(&never));
    }
}
