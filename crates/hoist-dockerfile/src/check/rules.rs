//! The rules: BuildKit's (names, descriptions and documentation links as BuildKit's linter has them)
//! and hoist's own, named in BuildKit's style.

/// Where a rule comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// One of BuildKit's build checks: same name, same message.
    BuildKit,
    /// hoist's advice.
    Hoist,
}

/// A check rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub name: &'static str,
    /// What the rule is about, in one sentence.
    pub description: &'static str,
    pub url: Option<&'static str>,
    /// Runs only when `# check=experimental=` names it (or `all`).
    pub experimental: bool,
    pub origin: Origin,
}

const fn buildkit(name: &'static str, description: &'static str, url: &'static str) -> Rule {
    Rule {
        name,
        description,
        url: Some(url),
        experimental: false,
        origin: Origin::BuildKit,
    }
}

const fn hoist(name: &'static str, description: &'static str) -> Rule {
    Rule {
        name,
        description,
        url: None,
        experimental: false,
        origin: Origin::Hoist,
    }
}

pub(super) const STAGE_NAME_CASING: Rule = buildkit(
    "StageNameCasing",
    "Stage names should be lowercase",
    "https://docs.docker.com/go/dockerfile/rule/stage-name-casing/",
);
pub(super) const FROM_AS_CASING: Rule = buildkit(
    "FromAsCasing",
    "The 'as' keyword should match the case of the 'from' keyword",
    "https://docs.docker.com/go/dockerfile/rule/from-as-casing/",
);
pub(super) const NO_EMPTY_CONTINUATION: Rule = buildkit(
    "NoEmptyContinuation",
    "Empty continuation lines will become errors in a future release",
    "https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/",
);
pub(super) const CONSISTENT_INSTRUCTION_CASING: Rule = buildkit(
    "ConsistentInstructionCasing",
    "All commands within the Dockerfile should use the same casing (either upper or lower)",
    "https://docs.docker.com/go/dockerfile/rule/consistent-instruction-casing/",
);
pub(super) const DUPLICATE_STAGE_NAME: Rule = buildkit(
    "DuplicateStageName",
    "Stage names should be unique",
    "https://docs.docker.com/go/dockerfile/rule/duplicate-stage-name/",
);
pub(super) const RESERVED_STAGE_NAME: Rule = buildkit(
    "ReservedStageName",
    "Reserved words should not be used as stage names",
    "https://docs.docker.com/go/dockerfile/rule/reserved-stage-name/",
);
pub(super) const JSON_ARGS_RECOMMENDED: Rule = buildkit(
    "JSONArgsRecommended",
    "JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals",
    "https://docs.docker.com/go/dockerfile/rule/json-args-recommended/",
);
pub(super) const MAINTAINER_DEPRECATED: Rule = buildkit(
    "MaintainerDeprecated",
    "The MAINTAINER instruction is deprecated, use a label instead to define an image author",
    "https://docs.docker.com/go/dockerfile/rule/maintainer-deprecated/",
);
pub(super) const UNDEFINED_ARG_IN_FROM: Rule = buildkit(
    "UndefinedArgInFrom",
    "FROM command must use declared ARGs",
    "https://docs.docker.com/go/dockerfile/rule/undefined-arg-in-from/",
);
pub(super) const WORKDIR_RELATIVE_PATH: Rule = buildkit(
    "WorkdirRelativePath",
    "Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes",
    "https://docs.docker.com/go/dockerfile/rule/workdir-relative-path/",
);
pub(super) const UNDEFINED_VAR: Rule = buildkit(
    "UndefinedVar",
    "Variables should be defined before their use",
    "https://docs.docker.com/go/dockerfile/rule/undefined-var/",
);
pub(super) const MULTIPLE_INSTRUCTIONS_DISALLOWED: Rule = buildkit(
    "MultipleInstructionsDisallowed",
    "Multiple instructions of the same type should not be used in the same stage",
    "https://docs.docker.com/go/dockerfile/rule/multiple-instructions-disallowed/",
);
pub(super) const LEGACY_KEY_VALUE_FORMAT: Rule = buildkit(
    "LegacyKeyValueFormat",
    "Legacy key/value format with whitespace separator should not be used",
    "https://docs.docker.com/go/dockerfile/rule/legacy-key-value-format/",
);
pub(super) const REDUNDANT_TARGET_PLATFORM: Rule = buildkit(
    "RedundantTargetPlatform",
    "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior",
    "https://docs.docker.com/go/dockerfile/rule/redundant-target-platform/",
);
pub(super) const SECRETS_USED_IN_ARG_OR_ENV: Rule = buildkit(
    "SecretsUsedInArgOrEnv",
    "Sensitive data should not be used in the ARG or ENV commands",
    "https://docs.docker.com/go/dockerfile/rule/secrets-used-in-arg-or-env/",
);
pub(super) const INVALID_DEFAULT_ARG_IN_FROM: Rule = buildkit(
    "InvalidDefaultArgInFrom",
    "Default value for global ARG results in an empty or invalid base image name",
    "https://docs.docker.com/go/dockerfile/rule/invalid-default-arg-in-from/",
);
pub(super) const FROM_PLATFORM_FLAG_CONST_DISALLOWED: Rule = buildkit(
    "FromPlatformFlagConstDisallowed",
    "FROM --platform flag should not use a constant value",
    "https://docs.docker.com/go/dockerfile/rule/from-platform-flag-const-disallowed/",
);
pub(super) const COPY_IGNORED_FILE: Rule = buildkit(
    "CopyIgnoredFile",
    "Attempting to Copy file that is excluded by .dockerignore",
    "https://docs.docker.com/go/dockerfile/rule/copy-ignored-file/",
);
pub(super) const INVALID_DEFINITION_DESCRIPTION: Rule = Rule {
    experimental: true,
    ..buildkit(
        "InvalidDefinitionDescription",
        "Comment for build stage or argument should follow the format: `# <arg/stage name> <description>`. If this is not intended to be a description comment, add an empty line or comment between the instruction and the comment.",
        "https://docs.docker.com/go/dockerfile/rule/invalid-definition-description/",
    )
};
pub(super) const EXPOSE_PROTO_CASING: Rule = buildkit(
    "ExposeProtoCasing",
    "Protocol in EXPOSE instruction should be lowercase",
    "https://docs.docker.com/go/dockerfile/rule/expose-proto-casing/",
);
pub(super) const EXPOSE_INVALID_FORMAT: Rule = buildkit(
    "ExposeInvalidFormat",
    "IP address and host-port mapping should not be used in EXPOSE instruction. This will become an error in a future release",
    "https://docs.docker.com/go/dockerfile/rule/expose-invalid-format/",
);

pub(super) const CONSECUTIVE_RUN_INSTRUCTIONS: Rule = hoist(
    "ConsecutiveRunInstructions",
    "Consecutive RUN instructions in the image's stages each add a layer; combine them",
);
pub(super) const APT_GET_WITHOUT_CLEANUP: Rule = hoist(
    "AptGetWithoutCleanup",
    "apt-get update leaves its package lists in the layer unless the same RUN removes them",
);
pub(super) const APT_GET_WITHOUT_NO_INSTALL_RECOMMENDS: Rule = hoist(
    "AptGetWithoutNoInstallRecommends",
    "apt-get install without --no-install-recommends installs recommended packages too",
);
pub(super) const APK_ADD_WITHOUT_NO_CACHE: Rule = hoist(
    "ApkAddWithoutNoCache",
    "apk add without --no-cache leaves the package index in the layer",
);
pub(super) const NO_DOCKERIGNORE: Rule = hoist(
    "NoDockerignore",
    "Without a .dockerignore, copying the whole context copies VCS data, dependencies and build output",
);
pub(super) const LATEST_OR_UNTAGGED_BASE: Rule = hoist(
    "LatestOrUntaggedBase",
    "A base image without a version tag or digest changes under the build",
);
pub(super) const ROOT_USER: Rule = hoist("RootUser", "The final stage runs as root");
pub(super) const ADD_INSTEAD_OF_COPY: Rule = hoist(
    "AddInsteadOfCopy",
    "ADD of local files that are not archives does what COPY does, with surprises",
);

/// Every rule, BuildKit's first.
pub const RULES: &[Rule] = &[
    STAGE_NAME_CASING,
    FROM_AS_CASING,
    NO_EMPTY_CONTINUATION,
    CONSISTENT_INSTRUCTION_CASING,
    DUPLICATE_STAGE_NAME,
    RESERVED_STAGE_NAME,
    JSON_ARGS_RECOMMENDED,
    MAINTAINER_DEPRECATED,
    UNDEFINED_ARG_IN_FROM,
    WORKDIR_RELATIVE_PATH,
    UNDEFINED_VAR,
    MULTIPLE_INSTRUCTIONS_DISALLOWED,
    LEGACY_KEY_VALUE_FORMAT,
    REDUNDANT_TARGET_PLATFORM,
    SECRETS_USED_IN_ARG_OR_ENV,
    INVALID_DEFAULT_ARG_IN_FROM,
    FROM_PLATFORM_FLAG_CONST_DISALLOWED,
    COPY_IGNORED_FILE,
    INVALID_DEFINITION_DESCRIPTION,
    EXPOSE_PROTO_CASING,
    EXPOSE_INVALID_FORMAT,
    CONSECUTIVE_RUN_INSTRUCTIONS,
    APT_GET_WITHOUT_CLEANUP,
    APT_GET_WITHOUT_NO_INSTALL_RECOMMENDS,
    APK_ADD_WITHOUT_NO_CACHE,
    NO_DOCKERIGNORE,
    LATEST_OR_UNTAGGED_BASE,
    ROOT_USER,
    ADD_INSTEAD_OF_COPY,
];
