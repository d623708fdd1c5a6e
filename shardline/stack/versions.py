"""Every version the local stack downloads or builds, pinned in one place.

Bump a version here and the next ``shardline stack up`` resolves it into a new cache folder;
nothing else in the package names a version.
"""

from __future__ import annotations

__all__ = [
    "APICURIO_VERSION",
    "ELASTICSEARCH_VERSION",
    "KAFKA_SCALA_VERSION",
    "KAFKA_VERSION",
    "LOG4J_VERSION",
    "MAVEN_DEPENDENCY_PLUGIN",
    "MINIO_MODULE",
    "MINIO_VERSION",
    "MIN_JAVA_MAJOR",
    "OPENSEARCH_VERSION",
    "apicurio_artifact",
    "elasticsearch_artifact",
    "kafka_coordinates",
    "opensearch_artifact",
]

KAFKA_VERSION = "4.3.1"
KAFKA_SCALA_VERSION = "2.13"
# Kafka 4 ships no logging backend: an SLF4J 1.7 provider plus log4j-core.
LOG4J_VERSION = "2.25.2"

# Community MinIO has no semver tags: a Go pseudo-version of a commit on master.
MINIO_MODULE = "github.com/minio/minio"
MINIO_VERSION = "v0.0.0-20260212201848-7aac2a2c5b7c"

# Both run on Java 17 (Elasticsearch 9 / OpenSearch 3 would need Java 21).
ELASTICSEARCH_VERSION = "8.19.21"
OPENSEARCH_VERSION = "2.19.6"
MIN_JAVA_MAJOR = 17

# Apicurio Registry 2.6 (Quarkus 3.15, in-memory storage): the last line that runs on Java 17
# like the rest of the stack (3.x is built for Java 21). Its `all` zip is a runner jar and lib/.
APICURIO_VERSION = "2.6.13.Final"

# The plugin version Maven 3.8 picks by default; pinned so resolution does not drift.
MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:2.8"


def kafka_coordinates() -> tuple[tuple[str, str, str], ...]:
    """(groupId, artifactId, version) of everything on the Kafka server's classpath."""
    return (
        ("org.apache.kafka", f"kafka_{KAFKA_SCALA_VERSION}", KAFKA_VERSION),
        ("org.apache.logging.log4j", "log4j-slf4j-impl", LOG4J_VERSION),
        ("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION),
    )


def elasticsearch_artifact() -> str:
    return (
        f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ELASTICSEARCH_VERSION}:zip"
    )


def opensearch_artifact() -> str:
    return f"org.opensearch.distribution.integ-test-zip:opensearch:{OPENSEARCH_VERSION}:zip"


def apicurio_artifact() -> str:
    return f"io.apicurio:apicurio-registry-app:{APICURIO_VERSION}:zip:all"
