// The genes table of an annotation (GTF/GFF3, BED6 or a TSS table; epi-candidates genes): one TSS
// per gene, biotype filter in ext.args, joined with `expression` (gene expression) when given.
process EPI_CANDIDATE_GENES {
    tag "${meta.id}"
    label 'process_low'
    container "${params.container_cpu}"

    input:
    tuple val(meta), path(annotation), path(expression), path(genome), path(genome_index)

    output:
    tuple val(meta), path("${prefix}.genes.tsv"), emit: genes
    path "versions.yml"                         , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    def expression_arg = expression ? "--expression ${expression}" : ''
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    epi-candidates genes \\
        --annotation ${annotation} \\
        ${expression_arg} \\
        --chrom-sizes ${genome} \\
        --out ${prefix}.genes.tsv \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}"
    """
    touch ${prefix}.genes.tsv

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """
}
