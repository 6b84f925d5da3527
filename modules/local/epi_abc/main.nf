// ABC over all candidate pairs of a sample (epi-prioritize abc): activity and contact_norm come
// from the pairs table (EPI_ACTIVITY -> EPI_CANDIDATE_PAIRS -> HIC_CONTACTS), scored one
// chromosome at a time, with ABC's EnhancerPredictions / GenePredictionStats summaries.
process EPI_ABC {
    tag "${meta.id}"
    label 'process_medium'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(pairs)

    output:
    tuple val(meta), path("${prefix}.abc.tsv")   , emit: scores
    tuple val(meta), path("${prefix}_summaries") , emit: summaries
    path "versions.yml"                          , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    epi-prioritize abc \\
        --pairs ${pairs} \\
        --summaries ${prefix}_summaries \\
        --out ${prefix}.abc.tsv \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    mkdir -p ${prefix}_summaries
    touch ${prefix}.abc.tsv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """
}
